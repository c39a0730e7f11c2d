"""The YAML knowledge base (questionnaire, tips, services, placements, FAQ), its pydantic
schema (`knowledge.schema`) and the checking loader (`knowledge.loader`)."""
