"""Model and processor loading, prompt building, and the offline tiny-model builder."""
