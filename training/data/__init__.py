"""The data side of a run: load a prepared corpus, combine corpora, split, audit and batch."""
