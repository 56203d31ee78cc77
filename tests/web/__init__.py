"""Tests for the web drum machine: its API (test client) and its page (real Chromium)."""
