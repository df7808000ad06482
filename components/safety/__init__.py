"""Safety: alarms, the notifications topic and its event rules, the audit trail and the dashboard."""
