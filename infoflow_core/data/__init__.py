"""Data sets of the paper: the SZT set (:mod:`.szt`, shipped with the package) and
MNIST (:mod:`.mnist`, read from a data folder)."""
