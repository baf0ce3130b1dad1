"""Security adapters: password hashing, access tokens, API keys and field encryption."""
