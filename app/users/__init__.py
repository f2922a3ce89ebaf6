"""Who may sign in: the registry that gives an identity provider's users their rights."""
