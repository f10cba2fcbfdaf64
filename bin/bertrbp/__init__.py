"""bert-rbp: predict RNA-binding-protein binding sites with k-mer BERT models and read their attention."""

__version__ = "0.1.0"
