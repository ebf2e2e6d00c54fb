"""Serving geolm models to the tools people already use: an OpenAI-compatible endpoint (`geolm serve`)."""
