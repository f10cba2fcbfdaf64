"""Variant effect on predicted binding: VCF reading, reference checks, ref/alt windows, strand annotation."""
