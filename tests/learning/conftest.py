"""Fixtures of the learning tests.  Shared by several authors: append new fixtures at the end."""

from __future__ import annotations

import pytest


@pytest.fixture
def llm_server(settings):
    """A real OpenAI-compatible server on 127.0.0.1 (``tests/learning/llm_server.py``), configured.

    Sets ``LLM_API_KEY`` / ``LLM_BASE_URL`` / ``LLM_MODEL`` and a 1 s ``LLM_TIMEOUT_S`` (so the
    timeout test is quick); script answers with ``llm_server.push(...)``.
    """
    from tests.learning.llm_server import LlmServer

    with LlmServer() as server:
        settings.LLM_API_KEY = "test-key"
        settings.LLM_BASE_URL = server.base_url
        settings.LLM_MODEL = "gpt-4o-mini"
        settings.LLM_TIMEOUT_S = 1.0
        yield server
