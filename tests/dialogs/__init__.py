"""Tests of dialogs."""
