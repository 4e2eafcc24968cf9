"""The HTTP interface: the FastAPI app and its routers, the OpenAI wire format, auth, errors, and the
client `rag index` uses to hand work to a running server."""
