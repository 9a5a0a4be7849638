"""The service provider's side: the XSP API client, the ON-API client and the automation agent
(``serviceguide agent run``) that moves orders from the guide to activated services."""
