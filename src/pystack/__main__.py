"""`python -m pystack`."""
from ._entry import main

main()
