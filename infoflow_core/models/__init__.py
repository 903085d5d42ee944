"""The paper's networks: the SZT fully connected network (:mod:`.szt`) and the MNIST
CNN (:mod:`.mnist`)."""
