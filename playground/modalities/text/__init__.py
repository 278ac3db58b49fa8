"""Text input: cleaning, tokenizers and the preprocessing of text models."""
