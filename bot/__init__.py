"""driverhome: the chat-platform-free core services and the adapters around them."""
