from rest_framework import serializers


class WsTicketOut(serializers.Serializer[dict[str, object]]):
    ticket = serializers.CharField(help_text="Single use: open the socket with ?ticket=<ticket>")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid (LIVE_TICKET_TTL_S)")
