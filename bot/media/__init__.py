"""Pictures: fetching allowed preview images, collages, BlurHash placeholders."""
