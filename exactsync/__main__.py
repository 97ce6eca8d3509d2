from exactsync.cli.main import main

main()
