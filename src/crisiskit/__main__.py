from crisiskit.cli import main

main()
