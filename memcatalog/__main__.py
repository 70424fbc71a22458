from memcatalog.cli import main

main()
