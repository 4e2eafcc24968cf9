"""Answering: corpus, retrieval, question language, scoring, rendering, answerers, checking, follow-ups."""
