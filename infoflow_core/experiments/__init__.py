"""One experiment = one function returning a results object. Submodules follow the
book's chapters: :mod:`.binning` (Section 1), :mod:`.neuron` and
:mod:`.constellation` (Section 4), :mod:`.szt` (Section 5.1), :mod:`.mnist`
(Sections 2 and 5.2)."""
