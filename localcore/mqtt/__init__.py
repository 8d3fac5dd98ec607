"""The lab's MQTT side: the broker over mutual TLS (`broker`), who connects (`identity`), what they
may do (`authorizer`), Device Shadow over MQTT (`shadow_service`) and lifecycle events."""
