"""SQS and schedule entry points. Only these know the shape of a Lambda event."""
