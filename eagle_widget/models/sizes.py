"""What every transformers adapter requires of an image, known before any model loads."""

# No image side below this: image processors guess the channel axis from a dimension of 1, 3
# or 4, and a vision encoder's patch is larger anyway. The command line refuses a smaller
# image before the model loads; each model's own minimum (a patch) may be larger.
MIN_IMAGE_SIDE = 8
