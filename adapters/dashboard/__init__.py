"""The web dashboard served by ``dockyard server`` beside the GraphQL API."""
