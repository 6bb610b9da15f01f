"""Ingestion: documents in, normalized and structured chunks out, into the vector and lexical indexes."""
