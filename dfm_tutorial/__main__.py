"`python -m dfm_tutorial`: see `dfm_tutorial.cli`."
from dfm_tutorial.cli import main

if __name__ == '__main__': main()
