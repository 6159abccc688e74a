"""`python -m pystack`."""
from ._entry import main

if __name__ == "__main__":  # importing this module (pytest collects it) runs nothing
    main()
