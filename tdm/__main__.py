from tdm.cli import main

main()
