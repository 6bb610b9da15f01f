"""The one chat-model factory: answers and draft prefill build their model the same way.

``init_chat_model`` (LangChain) picks the provider from ``LLM_MODEL`` ("openai:…", "ollama:…");
no retries inside the client — callers fall back to rules or the extractive answer instead.
"""

from __future__ import annotations

from bot.config import Settings


def chat_model(settings: Settings):
    """The configured chat model (call only when ``settings.llm_model`` is set)."""
    from langchain.chat_models import init_chat_model

    kwargs: dict = {"timeout": settings.llm_timeout_s, "max_retries": 0}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key:
        kwargs["api_key"] = settings.llm_api_key
    return init_chat_model(settings.llm_model, **kwargs)
