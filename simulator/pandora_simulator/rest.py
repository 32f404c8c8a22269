"""The REST API subset Pandora's clients use, with Discord's error shapes (bodies from :mod:`.errors`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from pandora_simulator import shapes
from pandora_simulator.errors import DiscordError, json_response, missing_access, missing_permissions, not_found
from pandora_simulator.guild_changes import GuildChanges
from pandora_simulator.ids import new_snowflake
from pandora_simulator.interactions import Interactions
from pandora_simulator.logs import log
from pandora_simulator.messages import Messages
from pandora_simulator.model import SimBot, SimChannel, SimGuild
from pandora_simulator.permissions import CHANGE_NICKNAME, SEND_MESSAGES, VIEW_CHANNEL
from pandora_simulator.world import World

API_PREFIX = r"/api/v{version:\d+}"


def _canonical(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path).removeprefix("/api/v{version}")


async def read_body(request: web.Request) -> Any:
    """The JSON body, or the ``payload_json`` part of a multipart upload (files are accepted and ignored)."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        return json.loads(str(raw)) if raw is not None else {}
    if not request.can_read_body:
        return {}
    text = await request.text()
    return json.loads(text) if text else {}


class RestApi:
    """Route table and handlers: authentication and lookups here, the rules in ``messages``/``interactions``."""

    def __init__(self, world: World, messages: Messages, interactions: Interactions, guild_changes: GuildChanges,
                 *, gateway_url: Callable[[], str], session_start_limit: Callable[[SimBot], dict[str, Any]]) -> None:
        self.world = world
        self.messages = messages
        self.interactions = interactions
        self.guild_changes = guild_changes
        self.gateway_url = gateway_url
        self.session_start_limit = session_start_limit

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        return [
            web.get(p + "/users/@me", self.get_me),
            web.get(p + "/users/@me/guilds", self.get_my_guilds),
            web.get(p + "/users/{user_id:\\d+}", self.get_user),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/applications/@me", self.get_application),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_gateway_bot),
            web.get(p + "/applications/{app_id}/commands", self.get_commands),
            web.put(p + "/applications/{app_id}/commands", self.put_commands),
            web.post(p + "/applications/{app_id}/commands", self.post_command),
            web.get(p + "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            web.put(p + "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            web.post(p + "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            web.post(p + "/webhooks/{app_id}/{token}", self.followup),
            web.get(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self.get_webhook_message),
            web.patch(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            web.delete(p + "/webhooks/{app_id}/{token}/messages/{message_id}", self.delete_webhook_message),
            web.get(p + "/channels/{channel_id}", self.get_channel),
            web.get(p + "/channels/{channel_id}/messages", self.get_messages),
            web.post(p + "/channels/{channel_id}/messages", self.create_message),
            web.get(p + "/channels/{channel_id}/messages/{message_id}", self.get_message),
            web.patch(p + "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            web.delete(p + "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            web.post(p + "/channels/{channel_id}/typing", self.typing),
            web.get(p + "/guilds/{guild_id}", self.get_guild),
            web.get(p + "/guilds/{guild_id}/channels", self.get_guild_channels),
            web.get(p + "/guilds/{guild_id}/members", self.list_members),
            web.patch(p + "/guilds/{guild_id}/members/@me", self.change_own_nickname),
            web.get(p + "/guilds/{guild_id}/members/{user_id:\\d+}", self.get_member),
        ]

    def route_templates(self) -> list[str]:
        """Every route as ``METHOD /path/{param}`` (without the API version prefix): what rate limits name."""
        return [f"{route.method} {_canonical(route.path)}" for route in self.routes()]

    @staticmethod
    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except DiscordError as error:
            return json_response({"message": error.message, "code": error.code}, status=error.status)
        except web.HTTPNotFound:
            return json_response({"message": "404: Not Found", "code": 0}, status=404)
        except web.HTTPMethodNotAllowed:
            return json_response({"message": "405: Method Not Allowed", "code": 0}, status=405)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("rest bad request", path=request.path, error=str(error))
            return json_response({"message": "Invalid Form Body", "code": 50035}, status=400)

    # --- authentication and lookups -------------------------------------------------------------------------

    def bot_of(self, request: web.Request) -> SimBot:
        header = request.headers.get("Authorization", "")
        bot = self.world.bot_by_token(header) if header.startswith("Bot ") else None
        if bot is None:
            raise DiscordError(401, 0, "401: Unauthorized")
        return bot

    def guild_for(self, bot: SimBot, guild_id: str) -> SimGuild:
        guild = self.world.guild(int(guild_id)) if guild_id.isdigit() else None
        if guild is None:
            raise not_found("Guild", 10004)
        if bot not in guild.bots:
            raise missing_access()
        return guild

    def channel_for(self, bot: SimBot, channel_id: str) -> SimChannel:
        channel = self.world.channel(int(channel_id)) if channel_id.isdigit() else None
        if channel is None:
            raise not_found("Channel", 10003)
        if bot not in channel.guild.bots or not channel.allows(bot.id, VIEW_CHANNEL):
            raise missing_access()
        return channel

    def app_bot(self, app_id: str) -> SimBot:
        bot = self.world.bot_by_application(app_id)
        if bot is None:
            raise not_found("Application", 10002)
        return bot

    # --- identity -------------------------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(shapes.client_user(self.bot_of(request)))

    async def get_my_guilds(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        return json_response([
            {"id": str(g.id), "name": g.name, "icon": None, "owner": False,
             "permissions": str(g.permissions_of(bot.id)), "features": [], "banner": None}
            for g in self.world.guilds_of(bot)
        ])

    async def get_user(self, request: web.Request) -> web.Response:
        self.bot_of(request)
        user = self.world.user(int(request.match_info["user_id"]))
        if user is None:
            raise not_found("User", 10013)
        return json_response(shapes.user(user))

    async def get_application(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        return json_response(shapes.application(bot, self.world.owner))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = self.session_start_limit(self.bot_of(request))
        return json_response({"url": self.gateway_url(), "shards": 1, "session_start_limit": limit})

    # --- application commands -------------------------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> tuple[SimBot, list[dict[str, Any]]]:
        bot = self.bot_of(request)
        if request.match_info["app_id"] != str(bot.application_id):
            raise missing_access()
        guild_id = request.match_info.get("guild_id")
        guild = None if guild_id is None else self.guild_for(bot, guild_id)
        return bot, self.world.commands_of(bot, guild)

    def _stored_command(self, bot: SimBot, data: dict[str, Any], guild_id: str | None) -> dict[str, Any]:
        command = {
            "type": 1, "description": "", "options": [], "default_member_permissions": None, "nsfw": False,
            "integration_types": [0], "contexts": None, **data,
            "id": str(new_snowflake()), "application_id": str(bot.application_id), "version": str(new_snowflake()),
        }
        if guild_id is not None:
            command["guild_id"] = guild_id
        return command

    async def get_commands(self, request: web.Request) -> web.Response:
        _, commands = self._command_scope(request)
        return json_response(commands)

    async def put_commands(self, request: web.Request) -> web.Response:
        bot, commands = self._command_scope(request)
        body = await read_body(request)
        guild_id = request.match_info.get("guild_id")
        stored = [self._stored_command(bot, item, guild_id) for item in body]
        commands[:] = stored
        log.info("commands synced", bot=bot.name, guild=guild_id, names=[c["name"] for c in stored])
        return json_response(stored)

    async def post_command(self, request: web.Request) -> web.Response:
        bot, commands = self._command_scope(request)
        stored = self._stored_command(bot, await read_body(request), None)
        commands[:] = [c for c in commands if c["name"] != stored["name"]] + [stored]
        return json_response(stored, status=201)

    # --- interactions -----------------------------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        result = await self.interactions.callback(
            int(request.match_info["interaction_id"]), request.match_info["token"], body
        )
        if request.query.get("with_response") in ("1", "true", "True"):
            return json_response(result)
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        message = await self.interactions.followup(request.match_info["app_id"], request.match_info["token"], body)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message)
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        message = self.interactions.message(
            request.match_info["app_id"], request.match_info["token"], request.match_info["message_id"]
        )
        return json_response(message)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        message = await self.interactions.edit(
            request.match_info["app_id"], request.match_info["token"], request.match_info["message_id"], body
        )
        return json_response(message)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        message = self.interactions.message(
            request.match_info["app_id"], request.match_info["token"], request.match_info["message_id"]
        )
        channel = self.world.channel(int(message["channel_id"]))
        if channel is not None:
            await self.messages.delete(channel, int(message["id"]))
        return web.Response(status=204)

    # --- channels and messages ------------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(shapes.channel(self.channel_for(self.bot_of(request), request.match_info["channel_id"])))

    async def get_messages(self, request: web.Request) -> web.Response:
        channel = self.channel_for(self.bot_of(request), request.match_info["channel_id"])
        limit = int(request.query.get("limit", "50"))
        history = self.world.channel_messages(channel.id)
        return json_response(list(reversed(history))[:limit])

    async def create_message(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        channel = self.channel_for(bot, request.match_info["channel_id"])
        if not channel.allows(bot.id, SEND_MESSAGES):
            raise missing_permissions()
        body = await read_body(request)
        message = await self.messages.bot_creates(bot, channel, body)
        return json_response(message)

    def _own_message(self, bot: SimBot, request: web.Request) -> tuple[SimChannel, dict[str, Any]]:
        channel = self.channel_for(bot, request.match_info["channel_id"])
        message = self.world.message(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != str(channel.id):
            raise not_found("Message", 10008)
        return channel, message

    async def get_message(self, request: web.Request) -> web.Response:
        _, message = self._own_message(self.bot_of(request), request)
        return json_response(message)

    async def edit_message(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        _, message = self._own_message(bot, request)
        if message["author"]["id"] != str(bot.id):
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body = await read_body(request)
        return json_response(await self.messages.bot_edits(bot, message, body))

    async def delete_message(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        channel, message = self._own_message(bot, request)
        await self.messages.delete(channel, int(message["id"]))
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.Response:
        self.channel_for(self.bot_of(request), request.match_info["channel_id"])
        return web.Response(status=204)

    # --- guilds and members ---------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.guild_for(self.bot_of(request), request.match_info["guild_id"])
        data = shapes.guild(guild)
        if request.query.get("with_counts") in ("1", "true", "True"):
            data["approximate_member_count"] = len(guild.memberships)
            data["approximate_presence_count"] = 0
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.guild_for(self.bot_of(request), request.match_info["guild_id"])
        return json_response([shapes.channel(channel) for channel in guild.channels.values()])

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self.guild_for(self.bot_of(request), request.match_info["guild_id"])
        limit = int(request.query.get("limit", "1"))
        after = int(request.query.get("after", "0"))
        members = [shapes.member(m) for uid, m in sorted(guild.memberships.items()) if uid > after]
        return json_response(members[:limit])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.guild_for(self.bot_of(request), request.match_info["guild_id"])
        membership = guild.memberships.get(int(request.match_info["user_id"]))
        if membership is None:
            raise not_found("Member", 10007)
        return json_response(shapes.member(membership))

    async def change_own_nickname(self, request: web.Request) -> web.Response:
        bot = self.bot_of(request)
        guild = self.guild_for(bot, request.match_info["guild_id"])
        if not guild.permissions_of(bot.id) & CHANGE_NICKNAME:
            raise missing_permissions()
        body = await read_body(request)
        return json_response(await self.guild_changes.set_nickname(guild, bot, body.get("nick") or None))
