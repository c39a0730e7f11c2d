"""The coordinators' web back office (a door: it reads the store through dialogs/)."""
