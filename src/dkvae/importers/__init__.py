"""Importers: turn drum sources (Hydrogen kits, SoundFonts, folders, the synthesizer) into a bank folder."""
