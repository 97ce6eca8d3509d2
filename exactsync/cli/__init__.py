"""The ``exactsync`` command line (click). Command modules in this package register themselves."""
