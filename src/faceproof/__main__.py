from faceproof.cli import main

main()
