"""Who is who on a node: parties (organisations), users and their roles, API tokens, the node's own keys."""
