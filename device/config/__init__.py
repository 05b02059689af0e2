"""The owner's config: its shape (`schema`), how it is found and read (`load`), how it is changed
safely (`edit`), and where state and models live (`paths`)."""
