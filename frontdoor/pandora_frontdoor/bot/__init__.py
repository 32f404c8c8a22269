"""The front door's discord.py side: the client, its view of guilds and members, and how it answers."""
