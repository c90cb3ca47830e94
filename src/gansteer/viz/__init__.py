"""Pictures: image grids, GIFs and plots (grid code written here because torchvision cannot be installed)."""
