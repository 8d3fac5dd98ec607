"""MQTT 5 for the lab's broker: a pure codec, AWS IoT Core's table for it, and the bridge to amqtt."""
