"""Errors users can act on: each message says what happened and what to do."""


class RagError(Exception):
    """Base class of every error article-chat reports to a user."""


class IngestError(RagError):
    """An article could not be read: missing, empty, binary, undecodable, unreachable, too large."""


class TooLargeError(IngestError):
    """An article, upload or download over a configured size limit."""


class IndexNotReadyError(RagError):
    """There is no index yet, or it cannot be opened."""


class ArticleNotFoundError(RagError):
    """An article id that is not in the index."""


class EmbeddingError(RagError):
    """The embedding model could not be loaded."""


class AnswerError(RagError):
    """A question could not be answered (bad input, backend failure)."""


class SettingsError(RagError):
    """A `RAG_*` setting (environment, `.env` or keyword) has a value that is not allowed."""
