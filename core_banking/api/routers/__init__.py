"""The API's resources, one router each."""
