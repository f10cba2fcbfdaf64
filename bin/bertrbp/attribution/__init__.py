"""Explaining a prediction per nucleotide: integrated gradients, in-silico mutagenesis, logos, motif summary."""
