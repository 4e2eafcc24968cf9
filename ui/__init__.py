"""The Gradio chat UI of article-chat (`ui.app.build_app`)."""
