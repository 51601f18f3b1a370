"""The command-line layer: each module parses one command's options, calls the library and prints."""
