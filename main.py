"""Camera firmware: runs on the first start after a reset (boot.py chose the image)."""
from camstream.app import main

main()
