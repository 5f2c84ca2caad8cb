"""A tiny SMTP server on loopback (asyncio streams) for the SMTP channel tests.

Speaks just enough RFC 5321 for aiosmtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
``rcpt_replies`` scripts the answers to RCPT TO (e.g. ``["451 4.3.0 try later"]`` then the
default ``250``); ``refuse`` maps recipients to a permanent reply.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpResponder:
    rcpt_replies: list[str] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    sessions: int = 0
    server: asyncio.base_events.Server | None = None
    port: int = 0

    async def start(self) -> SmtpResponder:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1

        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients = "", []
        try:
            await reply("220 test-smtp ESMTP ready")
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb == "EHLO":
                    await reply("250-test-smtp greets you")
                    await reply("250-8BITMIME")
                    await reply("250 SIZE 10485760")
                elif verb == "HELO":
                    await reply("250 test-smtp")
                elif verb == "MAIL":
                    sender, recipients = line.split(":", 1)[1].split()[0].strip("<>"), []
                    await reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    to = line.split(":", 1)[1].split()[0].strip("<>")
                    if to in self.refuse:
                        await reply(self.refuse[to])
                    elif self.rcpt_replies:
                        await reply(self.rcpt_replies.pop(0))
                    else:
                        recipients.append(to)
                        await reply("250 2.1.5 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    chunks = []
                    while True:
                        chunk = await reader.readline()
                        if chunk in (b".\r\n", b""):
                            break
                        chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    self.messages.append(Received(sender, recipients, b"".join(chunks)))
                    await reply(f"250 2.0.0 queued as {len(self.messages)}")
                elif verb == "RSET":
                    sender, recipients = "", []
                    await reply("250 OK")
                elif verb == "NOOP":
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    return
                else:
                    await reply("502 5.5.2 command not implemented")
        finally:
            writer.close()
