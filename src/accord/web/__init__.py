"""The HTTP surface: app factory, problem+json, authentication, security headers, page shell."""
